"""A method (``zs-v``, ``zsfs-all``, ...) -> its fine-tuned end point -> its exact test-error
curves (:mod:`.models`), with the measured accuracy of what is printed (:mod:`.accuracy`)."""
