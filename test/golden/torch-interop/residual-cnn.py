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
        self.stem = nn.Sequential(nn.Conv2d(2, 4, (3, 3), stride=(1, 1), padding='same', dilation=(1, 1), bias=True), nn.ReLU())
        self.shared = nn.Sequential(nn.Conv2d(4, 4, (3, 3), stride=(1, 1), padding='same', dilation=(1, 1), bias=True))
        self.bn = nn.Sequential(nn.BatchNorm2d(4, eps=0.001, momentum=0.01, affine=True))
        self.pool = nn.Sequential(nn.MaxPool2d((2, 2), stride=(2, 2)))
        self.flat = nn.Sequential(nn.Flatten())
        self.probs = nn.Sequential(nn.Linear(72, 3, bias=True), nn.Softmax(dim=-1))

    def forward(self, image):
        x0 = self.stem(image)
        x1 = self.shared(x0)
        x2 = x0 + x1
        x3 = self.bn(x0)
        x4 = self.shared(x3)
        x5 = torch.cat([x2, x4], dim=1)
        x6 = self.pool(x5)
        x7 = self.flat(x6)
        x8 = self.probs(x7)
        return x8


model = Model()
