import sys

from irc.driver.cli import main

sys.exit(main())
