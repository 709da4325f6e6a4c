"""`effcheck bisect BASELINE RUN [CLAIM ...]`: which package moved which claim.

Two saved runs whose recorded environments differ in several packages (a nightly that upgraded torch,
transformers and peft at once) and whose claims moved: bisect rebuilds the baseline's versions in a scratch
virtual environment, moves one package at a time to the run's version (pip, the recorded versions), reruns
only the changed claims there and says, per claim, which package (or group that pip could only install
together, or the project's own code) moved it.

    inputs    what differs between the two runs: the packages (PackageChange) and the claims (ChangedClaim)
    search    the order of the environments to try and the reading of their results, against a Runner
    verdicts  what each environment's value says about a claim, and who is responsible
    table     the report in words
    scratch   the real Runner: a scratch venv, pip, and pytest on the claims' recorded node ids
    command   the CLI verb, gluing the above

Everything but `scratch` is pure Python (tested with a fake Runner); nothing here imports torch.
"""
