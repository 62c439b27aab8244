"""Vouchers (Certificate of Life, clothing/services, family card): codes, QR, rules."""
