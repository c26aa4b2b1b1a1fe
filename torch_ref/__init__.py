"""torch_ref: the PyTorch tutorial's MNIST program, the reference that scratchnet is checked against.

model.py holds the tutorial's `NeuralNetwork`; bridge.py is the only place that knows both engines'
layouts. torch_ref uses autograd for every gradient and never writes one by hand.
"""
