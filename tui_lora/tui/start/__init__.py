"""The first screen: recent projects, a new project, or an existing folder."""
