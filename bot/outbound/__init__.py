"""Everything the service sends goes out through here: one persistent queue
(`outbox`), paced to each platform's limits (`pace`), with priorities, and the
announcements staff send to families who agreed to receive them."""
