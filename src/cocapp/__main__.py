from cocapp.cli import main

raise SystemExit(main())
