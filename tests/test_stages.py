"""The stages on the tiny toy study, run in-process in a scratch directory."""
import json

import pytest
import torch

from conftest import tiny_study
from pipeline import loop, paths
from pipeline.context import Setting
from pipeline.device import Runtime
from pipeline.params import validate
from pipeline.stages import aggregate, evaluate, exchange, finetune, prepare, pretrain, probe

CPU = Runtime(torch.device("cpu"))


def _prepare_and_pretrain(study):
    for name in study.datasets:
        prepare.run(study, name)
    for name in study.pretrain:
        pretrain.run(study, name, CPU)


@pytest.fixture
def study(in_tmp):
    s = validate(tiny_study())
    _prepare_and_pretrain(s)
    return s


def test_whole_chain_writes_every_output(study):
    for setting in study.settings:
        probe.run(study, setting, CPU)
        finetune.run(study, setting, study.taus_of(setting), CPU)
        rows = evaluate.run(study, setting, CPU)
        assert [r["tau"] for r in rows] == study.taus
        for r in rows:
            for key in ("val_score", "test_score", "energy", "z_dist_sq", "z_dot", "z_norm_sq", "z_cos", "hp_train_acc"):
                assert r[key] == r[key], key  # finite, not NaN
    exchange.run(study, "toy", CPU)
    summary = aggregate.run(study)
    assert len(summary) == len(study.settings) * len(study.taus)
    for path in paths.AGGREGATE_OUTS + [paths.exchange("toy", "csv"), paths.exchange("toy", "png")]:
        assert path.is_file() and path.stat().st_size > 0, path
    table = paths.TABLE1.read_text()
    for row in ("HP-train-acc", "HP0-FT", "HPmax-FT", "HPtau*-FT", "lsHPmax-FT"):
        assert row in table
    assert summary.loc[summary.tau == 0, "energy"].gt(summary.loc[summary.tau == 2, "energy"].values).all()


def test_probe_freezes_the_backbone_for_real(study, monkeypatch):
    """Eval mode, no gradients, BatchNorm statistics unchanged (a BN layer is added to the
    toy backbone so that there are statistics to drift)."""
    from pipeline.families import classification

    original = classification.mlp_backbone

    def with_bn(*a):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(64), *original(*a)[1:])

    monkeypatch.setattr(classification, "mlp_backbone", with_bn)
    study.pretrain["mlp"].__dict__["epochs"] = 1
    pretrain.run(study, "mlp", CPU)
    seen = {}
    real_freeze = loop.freeze

    def spy(module):
        out = real_freeze(module)
        seen["backbone"], seen["before"] = module, {k: v.clone() for k, v in module.state_dict().items()}
        return out

    monkeypatch.setattr(probe, "freeze", spy)
    study.settings["toy"].hp.__dict__["augment"] = True  # every epoch goes through the backbone
    probe.run(study, "toy", CPU)
    bb = seen["backbone"]
    assert not bb.training and all(not m.training for m in bb.modules())
    assert all(not p.requires_grad and p.grad is None for p in bb.parameters())
    after = bb.state_dict()
    assert all(torch.equal(seen["before"][k], after[k]) for k in after)  # incl. running_mean / var


def test_one_hp_run_gives_the_heads_of_separate_runs(study):
    """The head at tau = 2 of the grid [0, 1, 2] equals that of a run over [0, 2] alone."""
    probe.run(study, "toy", CPU)
    long_run = torch.load(paths.hp_head("toy", 2))["state_dict"]
    short = validate({**tiny_study(), "taus": [0, 2], "exchange": {}})
    probe.run(short, "toy", CPU)
    again = torch.load(paths.hp_head("toy", 2))["state_dict"]
    assert all(torch.equal(long_run[k], again[k]) for k in long_run)
    log = json.loads(paths.hp_log("toy").read_text())["taus"]
    assert [r["tau"] for r in log] == [0, 2]


def test_cached_and_uncached_hp_agree(study):
    """HP from cached features equals HP through the frozen backbone (no augmentation)."""
    probe.run(study, "toy", CPU)
    cached = torch.load(paths.hp_head("toy", 2))["state_dict"]
    ctx = Setting(study, "toy")
    splits = ctx.splits(augment=False)
    backbone, head = ctx.parts(splits.num_outputs)
    backbone = loop.freeze(backbone)
    opt = loop.sgd(head.parameters(), ctx.cfg.hp.lr, 0.0)
    from pipeline.seeding import derive

    seed = ctx.seed_for("hp")
    z, y = loop.features(backbone, ctx.family.loader(splits.train_plain, 128, False, seed), ctx.family, CPU)
    for epoch in (1, 2):
        torch.manual_seed(derive(seed, "epoch", epoch))
        order = loop.cached_loader(z, y, 128, True, derive(seed, "order", epoch))
        loop.train_epoch(head, order, ctx.family, opt, 1.0, CPU, unpack=loop.default_unpack)
    assert all(torch.allclose(cached[k], v, atol=1e-6) for k, v in head.state_dict().items())


def test_interrupted_finetune_resumes(study, monkeypatch, capsys):
    probe.run(study, "toy", CPU)
    cfg = study.settings["toy"].ft
    cfg.__dict__.update(epochs=4, patience=10)
    finetune.run(study, "toy", [1], CPU)
    whole = torch.load(paths.ft_model("toy", 1))

    calls = {"n": 0}
    real = loop.train_epoch

    def dies_in_epoch_3(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(loop, "train_epoch", dies_in_epoch_3)
    paths.ft_model("toy", 1).unlink()
    with pytest.raises(KeyboardInterrupt):
        finetune.run(study, "toy", [1], CPU)
    assert paths.resume_of(paths.ft_model("toy", 1)).is_file() and not paths.ft_model("toy", 1).exists()
    monkeypatch.setattr(loop, "train_epoch", real)
    capsys.readouterr()
    finetune.run(study, "toy", [1], CPU)
    assert "resumed_from_epoch=2" in capsys.readouterr().err
    resumed = torch.load(paths.ft_model("toy", 1))
    assert resumed["history"] == whole["history"]
    assert all(torch.equal(whole["state_dict"][k], resumed["state_dict"][k]) for k in whole["state_dict"])
    assert not paths.resume_of(paths.ft_model("toy", 1)).exists()


def test_same_params_same_numbers(study):
    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [2], CPU)
    first = torch.load(paths.ft_model("toy", 2))["state_dict"]
    _prepare_and_pretrain(study)
    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [2], CPU)
    second = torch.load(paths.ft_model("toy", 2))["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_label_smoothed_companion_starts_from_the_same_head(study):
    for s in ("toy", "toy_ls"):
        probe.run(study, s, CPU)
    a, b = (torch.load(paths.hp_head(s, 0))["state_dict"] for s in ("toy", "toy_ls"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_same_params_same_bytes(in_tmp):
    """Artifacts are byte-identical across runs, so DVC's content hashes are stable."""
    from pipeline.provenance import digest

    study = validate(tiny_study())
    prepare.run(study, "d012")
    first = digest(paths.dataset("d012"))
    prepare.run(study, "d012")
    assert digest(paths.dataset("d012")) == first


def test_finetune_of_all_taus_in_one_process_gives_the_same_bytes(study):
    """DVC finetunes a setting's taus in one process, Snakemake one tau per job: the models
    must be the same either way (the head, seeds and draws restart for every tau)."""
    from pipeline.provenance import digest

    probe.run(study, "toy", CPU)
    finetune.run(study, "toy", [0, 1, 2], CPU)
    together = {t: digest(paths.ft_model("toy", t)) for t in (0, 1, 2)}
    for t in (2, 0, 1):
        finetune.run(study, "toy", [t], CPU)
        assert digest(paths.ft_model("toy", t)) == together[t], t


def test_a_setting_may_have_its_own_tau_grid(in_tmp):
    raw = tiny_study()
    raw["settings"]["toy"]["hp"]["taus"] = [0, 3]
    raw["exchange"] = {"toy": [0, 3]}
    study = validate(raw)
    assert study.taus_of("toy") == [0, 3] and study.taus_of("toy_ls") == [0, 1, 2]
    _prepare_and_pretrain(study)
    probe.run(study, "toy", CPU)
    assert [r["tau"] for r in json.loads(paths.hp_log("toy").read_text())["taus"]] == [0, 3]
    assert paths.hp_head("toy", 3).is_file() and not paths.hp_head("toy", 1).exists()


@pytest.mark.parametrize("schedule, flat", [("cosine", False), ("constant", True), ("none", True)])
def test_ft_schedule(schedule, flat):
    opt = loop.sgd([torch.nn.Parameter(torch.zeros(1))], 0.1, 0.0)
    sched = loop.scheduler(opt, schedule, epochs=4)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert lrs[0] == 0.1
    assert (lrs == [0.1] * 4) if flat else (lrs[1] < lrs[0] and lrs[3] < lrs[2])


def test_cached_features_stay_on_the_host_when_the_gpu_is_short_of_memory(monkeypatch):
    """The check runs on a simulated CUDA runtime: too little free memory, no copy."""
    z, y = torch.zeros(4, 8), torch.zeros(4)
    gpu = Runtime(torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (40, 10**9))
    assert loop.on_device_if_it_fits((z, y), gpu) == (z, y)  # 144 bytes > half of 40 free
    assert loop.on_device_if_it_fits((z, y), CPU) == (z, y)


def test_every_tau_sees_the_same_batches_and_random_draws(study, monkeypatch):
    """FT's data order and its dropout / augmentation draws depend on the seed and the
    epoch only, never on tau (the head is the one difference between taus)."""
    probe.run(study, "toy", CPU)
    real, seen = loop.train_epoch, {}

    def recording(model, loader, *a, **k):
        log = seen.setdefault(record_as, [])
        log.append(torch.get_rng_state())  # the state dropout masks are drawn from

        def batches():
            for batch in loader:
                log.append(batch[1].clone())
                yield batch
        return real(model, batches(), *a, **k)

    monkeypatch.setattr(loop, "train_epoch", recording)
    for record_as in (0, 2):
        finetune.run(study, "toy", [record_as], CPU)
    assert len(seen[0]) == len(seen[2]) > 2
    assert all(torch.equal(a, b) for a, b in zip(seen[0], seen[2]))


def test_a_companion_with_the_same_ft_gives_the_same_model_at_tau_0(in_tmp):
    """toy_ls differs from toy in eta_HP only: at tau 0 (no HP) both finetune the same,
    random crops of their augmented FT included."""
    raw = tiny_study()
    for s in ("toy", "toy_ls"):
        raw["settings"][s]["ft"]["augment"] = True
    study = validate(raw)
    _prepare_and_pretrain(study)
    for s in ("toy", "toy_ls"):
        probe.run(study, s, CPU)
        finetune.run(study, s, [0], CPU)
    a, b = (torch.load(paths.ft_model(s, 0))["state_dict"] for s in ("toy", "toy_ls"))
    assert all(torch.equal(a[k], b[k]) for k in a)
