import sys

from genoteam.cli import main

sys.exit(main())
