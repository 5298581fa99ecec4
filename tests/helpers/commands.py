"""Small, fast command lines shared by the CLI tests (ZS on all matrices at ``d = 2, m = 5,
N = 3``, JSON output); a test appends the options it varies."""

CURVE = ["curve", "--method", "zs-all", "--task", "target", "--d", "2", "--m", "5", "--N", "3",
         "--shots", "1:2", "--quiet", "--format", "json"]
FINETUNE = ["finetune", "--objective", "zs", "--train", "all", "--d", "2", "--m", "5", "--N", "3",
            "--quiet", "--format", "json"]
