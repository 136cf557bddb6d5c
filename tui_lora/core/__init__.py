"""The core library: every action of the wizard and the CLI lives here.

Nothing under core/ imports textual, rich or questionary; heavy libraries
(torch, diffusers, peft, onnxruntime) are imported inside the functions that need them.
"""
