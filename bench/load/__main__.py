from bench.load.harness import main

raise SystemExit(main())
