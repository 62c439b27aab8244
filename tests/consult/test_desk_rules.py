"""Who may do what with a case (found by review: a queued case of another specialty
could be closed or transferred, a follow-up set by anyone, a refused reply kept)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.consult import desk
from bot.core.services import Services
from bot.storage.models import CaseMessage, StaffUser
from tests.admin.conftest import password_hash
from tests.consult.conftest import consultant
from tests.consult.test_sweeps import _case


async def test_other_specialties_and_roles_cannot_act_on_a_case(services: Services) -> None:
    anna = await consultant(services, "anna", "Анна", "psychologist", 5001)
    async with services.db.session() as session:
        editor = StaffUser(login="ed", role="editor", password_hash=password_hash())
        session.add(editor)
    lawyers = await _case(services)  # a psychologist's case in the fixture…
    async with services.db.session() as session:
        item = await session.get(type(lawyers), lawyers.id)
        assert item is not None
        item.specialty = "lawyer"  # …now waiting for a lawyer
    assert not (await desk.close(services, lawyers.id, anna.id)).ok
    assert not (await desk.transfer(services, lawyers.id, anna.id, specialty="social")).ok
    assert not (await desk.follow_up(services, lawyers.id, editor.id, 3)).ok
    assert not (await desk.note(services, lawyers.id, editor.id, "заметка")).ok


async def test_a_refused_reply_is_not_kept(services: Services) -> None:
    anna = await consultant(services, "anna", "Анна", "psychologist", 5001)
    item = await _case(services)
    assert (await desk.take(services, item.id, anna.id)).ok
    async with services.db.session() as session:
        from bot.storage.models import Identity

        identity = await session.scalar(
            select(Identity).where(Identity.family_id == item.family_id)
        )
        assert identity is not None
        identity.blocked_at = identity.created_at
    done = await desk.reply(services, item.id, anna.id, "Здравствуйте!")
    assert not done.ok
    async with services.db.session() as session:
        kept = await session.scalar(
            select(func.count()).select_from(CaseMessage).where(CaseMessage.author == "consultant")
        )
    assert kept == 0
