import sys

from onecycle.experiments.cli import main

sys.exit(main())
