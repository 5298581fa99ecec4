"""The ``iclft`` command line: the parser and dispatch (:mod:`.main`), option values
(:mod:`.arguments`), one module per subcommand with its ``run(args)`` (:mod:`.check`,
:mod:`.explore`, :mod:`.curve`, :mod:`.finetune`, :mod:`.derive`, :mod:`.export_latex`,
:mod:`.figures`, :mod:`.experiment`), the wording of flow end points (:mod:`.endpoint_text`),
claim reports (:mod:`.report`), progress lines (:mod:`.progress`) and cost estimates
(:mod:`.cost`)."""
