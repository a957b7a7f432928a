"""Set-up check: the compiled llama.cpp has no AMX/AVX-512 code and decodes a long prompt on
this CPU. Thin wrapper so scripts/bootstrap.sh can run it; the logic lives in
xai_bench/llm/models/llama_build.py (python -m xai_bench.llm.models.llama_build)."""

from xai_bench.llm.models.llama_build import main

raise SystemExit(main())
