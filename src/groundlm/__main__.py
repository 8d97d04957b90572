import sys

from groundlm.cli import main

sys.exit(main())
