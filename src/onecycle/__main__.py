import sys

from onecycle.cli import main

sys.exit(main())
