# SPDX-License-Identifier: MIT
"""The seeds' exercise: copy every regular file of a folder with a process Pool,
printing the percentage done as files finish.

    python3 pool-copy.py SOURCE DEST [WORKERS]

The workers are mpxd's (mpx.Pool): each copies one file and returns its name
and size; the callback of each task, run in this process, prints the
progress. With no arguments it makes a folder of 40 files of random bytes in
a temporary folder, copies it, and checks that every copy is identical.
"""

import filecmp
import os
import shutil
import sys
import tempfile

import mpx


def copy_file(src, dst):
    """Copy one file (in a worker); its name and size."""
    shutil.copyfile(src, dst)
    return os.path.basename(src), os.path.getsize(dst)


def copy_folder(source, dest, workers=4):
    """Copy the regular files of source into dest; print the percentage as each finishes."""
    os.makedirs(dest, exist_ok=True)
    names = sorted(n for n in os.listdir(source) if os.path.isfile(os.path.join(source, n))
                   and not os.path.islink(os.path.join(source, n)))
    done = []

    def progress(result):
        done.append(result)
        print("%3d%% %s (%d bytes)" % (len(done) * 100 // len(names), result[0], result[1]), flush=True)

    with mpx.Pool(workers) as pool:
        results = [pool.apply_async(copy_file, (os.path.join(source, n), os.path.join(dest, n)),
                                    callback=progress) for n in names]
        for r in results:
            r.get(timeout=120)          # an error in a worker is raised here
        pool.close()
        pool.join()
    return names


def main(argv):
    if len(argv) >= 3:
        names = copy_folder(argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 4)
        print("copied %d files" % len(names))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = os.path.join(tmp, "source"), os.path.join(tmp, "dest")
        os.mkdir(source)
        for i in range(40):
            with open(os.path.join(source, "file%02d.bin" % i), "wb") as f:
                f.write(os.urandom(1000 + 997 * i))
        os.symlink("file00.bin", os.path.join(source, "link"))     # not a regular file: left alone
        names = copy_folder(source, dest)
        same, different, errors = filecmp.cmpfiles(source, dest, names, shallow=False)
        print("copied %d files, %d identical, %d different, %d missing"
              % (len(names), len(same), len(different), len(errors)))
        print("link copied: %s" % os.path.exists(os.path.join(dest, "link")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
