"""Each method in its own folder: its parts, its task and its recipe, registered into the shared machinery."""
