"""The headline figure, for real: `tinygrad-cnn train` with its defaults (LeNet-5, MNIST,
3 epochs) reaches >= 99.0 % test accuracy. About a minute on 2 idle cores; run with
`bash scripts/test.sh -m slow`."""
import pytest

from tinygrad_cnn.cli import main


@pytest.mark.slow
def test_default_cli_training_reaches_99_percent_on_mnist(capsys):
    assert main(["train", "--no-progress"]) == 0
    out = capsys.readouterr().out
    print(out)
    lines = out.splitlines()
    assert [l.split()[1] for l in lines if l.startswith("epoch ")] == ["1/3", "2/3", "3/3"]
    test_line = next(l for l in lines if l.startswith("test accuracy"))
    accuracy = float(test_line.split()[2].rstrip("%"))
    assert accuracy >= 99.0, test_line
