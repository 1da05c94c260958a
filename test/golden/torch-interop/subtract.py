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
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(3, 2, (1, 1), stride=(1, 1), padding=0, dilation=(1, 1), bias=True))
        self.b = nn.Sequential(nn.Conv2d(3, 2, (1, 1), stride=(1, 1), padding=0, dilation=(1, 1), bias=True), nn.Sigmoid())
        self.gap = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = nn.Sequential(nn.Linear(2, 2, bias=True))

    def forward(self, image):
        x0 = self.a(image)
        x1 = self.b(image)
        x2 = x0 - x1
        x3 = self.gap(x2)
        x4 = self.out(x3)
        return x4


model = Model()
