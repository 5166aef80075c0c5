"""``python -m iotests``: the same as the ``iotests`` console script."""

from iotests.cli import main

if __name__ == "__main__":
    main()
