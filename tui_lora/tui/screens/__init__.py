"""Screens of the wizard, one per file. Step screens subclass :class:`base.WizardScreen`."""
