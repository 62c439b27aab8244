"""Admin pages, one module per area; each exports ROUTES."""
