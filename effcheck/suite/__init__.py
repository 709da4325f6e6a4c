"""The claim suite's shared pytest configuration.

Saving every run that checked claims (the history the gate reads) is the plugin's job, in this
repository and in any other (ini option `effcheck_autosave`, default true): nothing to do here.
"""
