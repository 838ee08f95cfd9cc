"""The backend contract: one suite every backend must pass unchanged."""
