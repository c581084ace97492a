#!/usr/bin/python3
"""examples/command/hypersweep_trial.py: loading the point, the schedule table, reports."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "command"))
import hypersweep_trial as hs  # noqa: E402


class HelperTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        with open(os.path.join(d, "trial.json"), "w") as f:
            json.dump({"lr": 0.4, "batch_size": 64, "epochs": 2, "seed": 3, "fold": 1}, f)
        with open(os.path.join(d, "schedule.csv"), "w") as f:
            f.write("step,epoch,lr,momentum\n0,0,0.016,0.95\n1,0,0.4,0.85\n2,1,1.6e-06,0.95\n")
        os.environ["HYPERSWEEP_TRIAL"] = os.path.join(d, "trial.json")
        os.environ["HYPERSWEEP_SCHEDULE"] = os.path.join(d, "schedule.csv")
        os.environ["HYPERSWEEP_RESUME"] = "1"
        os.environ["HYPERSWEEP_CHECKPOINT_DIR"] = d
        hs._trial = hs._table = None

    def tearDown(self):
        self.dir.cleanup()

    def test_load(self):
        t = hs.load()
        self.assertEqual(t["lr"], 0.4)
        self.assertEqual(t["batch_size"], 64)
        self.assertTrue(hs.resume())
        self.assertEqual(hs.checkpoint_dir(), self.dir.name)

    def test_schedule(self):
        self.assertEqual(hs.steps(), 3)
        self.assertEqual(hs.lr(1), 0.4)
        self.assertEqual(hs.lr(2), 1.6e-06)
        self.assertEqual(hs.momentum(1), 0.85)
        with self.assertRaises(IndexError):
            hs.lr(3)

    def test_no_schedule_names_the_field(self):
        del os.environ["HYPERSWEEP_SCHEDULE"]
        with self.assertRaisesRegex(RuntimeError, "steps_per_epoch"):
            hs.lr(0)

    def test_report_is_one_flushed_json_line(self):
        out = io.StringIO()
        with redirect_stdout(out):
            hs.report(epoch=0, val_nll=0.5, acc=float("nan"))
            hs.report_lr_range(0.01, 2.5)
        lines = out.getvalue().splitlines()
        self.assertEqual(json.loads(lines[0]), {"epoch": 0, "val_nll": 0.5, "acc": None})
        self.assertEqual(json.loads(lines[1]), {"lr_range": {"lr": 0.01, "loss": 2.5}})


if __name__ == "__main__":
    unittest.main()
