#!/bin/bash
# One device call: the `accurate` candidate (HED VGG16) and its control (scratch encoder) side by side on one GPU,
# the same data, epochs and wall-clock budget; each writes its run back as parts under $OUT.
# As it ran on 2026-12-04 (.remote/bundle.tgz made by hand with tar); gpu_run.py bundle now writes
# .remote/bundle.call1.tgz, which gpu_run.py train extracts itself (under a lock, so two runs may start side by side).
export PYTHONUNBUFFERED=1
B=${B:-.remote/bundle}; if [ -f .remote/bundle.tgz ] && [ ! -d $B ]; then mkdir -p $B && tar -xzf .remote/bundle.tgz -C $B || exit 4; fi
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
python3 -c "import sys; sys.path.insert(0, 'scripts'); import gpu_run; print('installed', gpu_run.install_wheels(__import__('pathlib').Path('$B/wheels')))" || exit 3
mkdir -p $OUT/a $OUT/c
python3 scripts/gpu_run.py train $B --minutes ${MIN:-6.2} --out $OUT/a --name accurate data.num_workers=7 optim.epochs=${EP:-30} > $OUT/accurate.log 2>&1 &
A=$!
sleep 5
python3 scripts/gpu_run.py train $B --minutes ${MIN:-6.2} --out $OUT/c --name control data.num_workers=7 optim.epochs=${EP:-30} \
  output_dir=runs/accurate_scratch_control model_config.encoder=scratch 'model_config.encoder_options={}' \
  'model_config.encoder_channels=[48,96,192,256,320]' 'model_config.encoder_depths=[2,3,4,2]' model_config.image_size=384 \
  optim.encoder_lr_ratio=1.0 > $OUT/control.log 2>&1 &
C=$!
while kill -0 $A 2>/dev/null || kill -0 $C 2>/dev/null; do
  sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
  grep -ao 'epoch=[0-9]* step=[0-9]* elapsed_s=[0-9.]*' $OUT/accurate.log | tail -1; grep -ao 'epoch=[0-9]* step=[0-9]* elapsed_s=[0-9.]*' $OUT/control.log | tail -1
done
wait $A; echo "accurate rc $?"; wait $C; echo "control rc $?"
for f in accurate control; do echo "== $f"; tr '\r' '\n' < $OUT/$f.log | grep -v '^epoch [0-9]*/' | tail -12; done
ls -la $OUT/a $OUT/c
