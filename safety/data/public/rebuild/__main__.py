"""``python -m safety.data.public.rebuild``: see the package docstring."""

from .cli import main

if __name__ == "__main__":
    main()
