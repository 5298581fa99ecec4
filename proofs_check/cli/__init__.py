"""The ``iclft`` command line: the parser (:mod:`.main`), one function per subcommand, output
rendering (:mod:`.report`), progress lines and cost estimates."""
