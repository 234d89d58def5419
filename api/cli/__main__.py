"""`python -m api.cli`: the console command without the installed script."""

from api.cli import main

raise SystemExit(main())
