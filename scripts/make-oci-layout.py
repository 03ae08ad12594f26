#!/usr/bin/env python3
"""Write an OCI image layout of random layers:
make-oci-layout.py DIR [--layers N] [--mib M] [--ref REF] [--seed S].

For the demo and the benchmarks: a registry does not look inside layers, so random bytes stand in
for a real image's layers. Layers are streamed to disk in 1 MiB pieces, so a 1 GiB layer needs no
1 GiB of memory. With --seed the bytes (and so the digests) are the same on every run.
"""
import argparse, hashlib, json, os, random, shutil


def write_blob(root, data_chunks):
    tmp = os.path.join(root, "blobs", "sha256", ".tmp")
    h, size = hashlib.sha256(), 0
    with open(tmp, "wb") as f:
        for chunk in data_chunks:
            h.update(chunk)
            size += len(chunk)
            f.write(chunk)
    digest = h.hexdigest()
    os.replace(tmp, os.path.join(root, "blobs", "sha256", digest))
    return "sha256:" + digest, size


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--mib", type=int, default=1)
    p.add_argument("--ref", default="latest")
    p.add_argument("--seed", type=int, help="deterministic layer bytes (default: os.urandom)")
    a = p.parse_args()
    pieces = os.urandom if a.seed is None else random.Random(a.seed).randbytes
    shutil.rmtree(a.dir, ignore_errors=True)
    os.makedirs(os.path.join(a.dir, "blobs", "sha256"))
    layers = []
    for _ in range(a.layers):
        digest, size = write_blob(a.dir, (pieces(1 << 20) for _ in range(a.mib)))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}
    cdigest, csize = write_blob(a.dir, [json.dumps(config).encode()])
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
                "layers": layers}
    mdigest, msize = write_blob(a.dir, [json.dumps(manifest).encode()])
    index = {"schemaVersion": 2, "manifests": [{"mediaType": manifest["mediaType"], "digest": mdigest, "size": msize,
                                                 "annotations": {"org.opencontainers.image.ref.name": a.ref}}]}
    with open(os.path.join(a.dir, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.dir, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(mdigest)


if __name__ == "__main__":
    main()
