"""``python -m fanpin_risk.cli``: the same as the ``fanpin-risk`` command."""

from fanpin_risk.cli import main

main()
