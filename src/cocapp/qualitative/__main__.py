from cocapp.qualitative import main

raise SystemExit(main())
