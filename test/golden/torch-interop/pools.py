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


# input: NCHW images (a Waypoint NHWC batch x: x.permute(0, 3, 1, 2))
model = nn.Sequential(
    nn.Conv2d(2, 3, (2, 2), stride=(1, 1), padding=0, dilation=(2, 2), bias=True),
    nn.Tanh(),
    nn.ConstantPad2d((0, 1, 0, 1), float('-inf')),
    nn.MaxPool2d((2, 2), stride=(1, 1)),
    nn.AvgPool2d((3, 3), stride=(1, 1), padding=(1, 1), count_include_pad=False),
    nn.AdaptiveMaxPool2d(1),
    nn.Flatten(),
    nn.Linear(3, 3, bias=True),
    nn.Sigmoid(),
)
