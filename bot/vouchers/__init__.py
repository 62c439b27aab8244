"""Certificate of Life, clothing/services and family-card vouchers: codes, QR, issuing and redeeming."""
