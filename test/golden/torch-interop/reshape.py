import torch
from torch import nn


class _KerasRNN(nn.Module):
    """Keras's LSTM/GRU: batch-first sequences, zero initial state, the last output or every one."""
    def __init__(self, rnn, return_sequences):
        super().__init__()
        self.rnn, self.return_sequences = rnn, return_sequences

    def forward(self, x):
        y, _ = self.rnn(x)
        return y if self.return_sequences else y[:, -1]


def KerasLSTM(input_size, units, return_sequences=False, bias=True):
    return _KerasRNN(nn.LSTM(input_size, units, batch_first=True, bias=bias), return_sequences)


def KerasGRU(input_size, units, return_sequences=False, bias=True):
    return _KerasRNN(nn.GRU(input_size, units, batch_first=True, bias=bias), return_sequences)


class KerasReshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


# input: as Waypoint takes it
model = nn.Sequential(
    KerasReshape(3, 4),
    nn.Linear(4, 5, bias=True),
    nn.Tanh(),
    KerasLSTM(5, 3, return_sequences=False, bias=True),
    nn.Linear(3, 2, bias=True),
)
