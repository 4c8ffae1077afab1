"""`python -m irc`: the `irc` command."""

import sys

from irc.driver.cli import main

sys.exit(main())
