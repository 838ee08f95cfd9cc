"""An ARQ app that runs on conveyor with only its imports changed."""
