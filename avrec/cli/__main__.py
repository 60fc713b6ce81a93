import sys

from avrec.cli import main

sys.exit(main())
