"""PyTorch's `torch.utils` for irc: `irc.utils.data` (datasets and the DataLoader)."""
