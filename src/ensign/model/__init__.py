"""The typed Canary model: parsing, defaulting and cross-field validation. Pure."""
