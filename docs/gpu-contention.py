# What a coordinator's GPU work costs beside a training worker on the same card (docs/PERFORMANCE.md, "One card,
# two roles"). Run on a GPU machine with torch: python3 docs/gpu-contention.py. Scenarios: the probe alone; a
# training loop in another process; in this process on the same (default) stream; in this process with the probe
# on a high-priority stream of its own.
import json, os, statistics, sys, threading, time
import multiprocessing as mp
import torch

D, FF, L, B, T = 768, 3072, 12, 8, 1024

def make_model(dev):
    torch.manual_seed(0)
    layers = []
    for _ in range(L):
        layers += [torch.nn.Linear(D, FF, bias=False), torch.nn.GELU(), torch.nn.Linear(FF, D, bias=False)]
    return torch.nn.Sequential(*layers).to(dev)

def train_loop(stop, steps_out, dev="cuda"):
    m = make_model(dev)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    x = torch.randn(B * T, D, device=dev)
    times = []
    while not stop.is_set():
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.float16):
            y = m(x)
            loss = y.float().pow(2).mean()
        loss.backward()
        opt.step(); opt.zero_grad(set_to_none=True)
        loss.item()
        times.append(time.perf_counter() - t0)
    steps_out.put((statistics.median(times[2:]) if len(times) > 3 else float("nan"), len(times)))

def probes(dev, stream=None):
    ctx = torch.cuda.stream(stream) if stream is not None else torch.cuda.stream(torch.cuda.current_stream())
    with ctx:
        ws = [torch.randn(768, 768, device=dev) for _ in range(110)]
        big = torch.randn(130_000_000 // 4, device=dev)  # 130 MB... 32.5M floats
        m = make_model(dev).half()
        x = torch.randn(B * T, D, device=dev, dtype=torch.half)
        torch.cuda.synchronize()
        out = {}
        def timed(name, f, reps=8):
            f()
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
            out[name] = round(statistics.median(ts) * 1000, 2)
        timed("110 sums + 1 copy (ms)", lambda: torch.stack([w.sum() for w in ws]).cpu())
        timed("110 sums, 110 syncs (ms)", lambda: [w.sum().item() for w in ws])
        timed("1 big sum + copy (ms)", lambda: big.sum().item())
        with torch.no_grad():
            timed("fwd 12x MLP b8 fp16 (ms)", lambda: m(x).float().mean().item())
        timed("D2H 130 MB (ms)", lambda: big.cpu())
        return out

def main():
    dev = "cuda"
    res = {"gpu": torch.cuda.get_device_name()}
    res["alone"] = probes(dev)
    # trainer alone
    ctx = mp.get_context("spawn")
    stop = ctx.Event(); q = ctx.Queue()
    p = ctx.Process(target=train_loop, args=(stop, q)); p.start(); time.sleep(12)
    stop.set(); res["trainer alone s/step"] = q.get(); p.join()
    # trainer in another process
    stop = ctx.Event(); q = ctx.Queue()
    p = ctx.Process(target=train_loop, args=(stop, q)); p.start(); time.sleep(12)
    res["other process"] = probes(dev)
    stop.set(); res["other process: trainer s/step"] = q.get(); p.join()
    # same process, same (default) stream
    import queue as qq
    for label, stream in (("same process, default stream", None),
                          ("same process, high-priority side stream", torch.cuda.Stream(priority=-1))):
        stop = threading.Event(); q = qq.Queue()
        th = threading.Thread(target=train_loop, args=(stop, q)); th.start(); time.sleep(6)
        res[label] = probes(dev, stream)
        stop.set(); th.join(); res[label + ": trainer s/step"] = q.get()
    print(json.dumps(res, indent=1))

if __name__ == "__main__":
    main()
