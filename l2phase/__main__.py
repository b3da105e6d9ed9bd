import sys

from l2phase.cli import main

sys.exit(main())
