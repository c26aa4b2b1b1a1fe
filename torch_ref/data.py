"""The tutorial's datasets and DataLoaders, on the MNIST files that scratchnet.mnist.load fetched and checked.

    datasets.MNIST(root, train=..., download=False, transform=ToTensor())

reads <root>/MNIST/raw/, the very bytes that `scratchnet.mnist.load.load_mnist` verified (SHA-256) or fetched.
Sequential batches come from the tutorial's own `DataLoader(batch_size=m)`. Shuffled batches and batches
drawn with replacement come from `scratchnet.sampling.minibatches` through a batch sampler, so for the same
seed both engines see the same samples in the same order.
"""

from torch.utils.data import DataLoader, Sampler, Subset
from torchvision import datasets
from torchvision.transforms import ToTensor

from scratchnet.mnist.load import load_mnist
from scratchnet.sampling import batches_per_epoch, minibatches


def mnist(root, train, size=0):
    """The tutorial's training or test set, cut to its first `size` samples when size > 0.

    Items: (x, y) with x a (1, 28, 28) float32 tensor of pixels/255 (ToTensor) and y the int label.
    """
    load_mnist(root, train=train)  # fetch what is missing and check every file before torchvision reads it
    data = datasets.MNIST(root=root, train=train, download=False, transform=ToTensor())
    if size:
        data = Subset(data, range(min(size, len(data))))
    return data


class SharedBatches(Sampler):
    """A batch sampler that yields `minibatches(N, m, scheme, rng)` as index lists, one epoch per pass.

    The rng is kept between passes, as scratchnet.train keeps it between epochs.
    """

    def __init__(self, N, m, scheme, rng):
        self.N, self.m, self.scheme, self.rng = N, m, scheme, rng

    def __iter__(self):
        for idx in minibatches(self.N, self.m, self.scheme, self.rng):
            yield list(range(self.N)[idx]) if isinstance(idx, slice) else idx.tolist()

    def __len__(self):
        return batches_per_epoch(self.N, self.m)


def dataloaders(training_data, test_data, cfg, rng):
    """The train and test DataLoaders: the tutorial's for "sequential", shared batches for the other schemes."""
    if cfg.sampling == "sequential":
        train_dataloader = DataLoader(training_data, batch_size=cfg.batch_size)
    else:
        batches = SharedBatches(len(training_data), cfg.batch_size, cfg.sampling, rng)
        train_dataloader = DataLoader(training_data, batch_sampler=batches)
    test_dataloader = DataLoader(test_data, batch_size=cfg.batch_size)
    return train_dataloader, test_dataloader
