# Imports a BVH and a glTF binary into empty Blender scenes and prints one line per file with what Blender made
# of it, for src/export's tests:
#   monobody-check bvh armatures=1 bones=31 meshes=0 frames=1-8
# Usage: blender -b --factory-startup --python blender_import.py -- FILE.bvh FILE.glb FPS
import builtins
import sys

import bpy
import io_anim_bvh.import_bvh


# Debian's Blender 3.4 runs on Python 3.11, whose open() no longer accepts the mode 'rU' its BVH importer uses.
def _open_without_u(file, mode='r', *args, **kwargs):
    return builtins.open(file, mode.replace('U', ''), *args, **kwargs)


io_anim_bvh.import_bvh.open = _open_without_u

# Its glTF importer uses numpy.bool, which Debian 12's numpy 1.24 no longer has.
import numpy  # noqa: E402

if 'bool' not in numpy.__dict__:
    numpy.bool = bool


def report(kind):
    objects = list(bpy.context.scene.objects)
    armatures = [o for o in objects if o.type == 'ARMATURE']
    bones = sum(len(a.data.bones) for a in armatures)
    actions = [a.animation_data.action for a in armatures if a.animation_data and a.animation_data.action]
    frames = 'none'
    if actions:
        first = min(a.frame_range[0] for a in actions)
        last = max(a.frame_range[1] for a in actions)
        frames = f'{first:g}-{last:g}'
    meshes = sum(1 for o in objects if o.type == 'MESH')
    print(f'monobody-check {kind} armatures={len(armatures)} bones={bones} meshes={meshes} frames={frames}', flush=True)


bvh, glb, fps = sys.argv[sys.argv.index('--') + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=bvh, global_scale=1.0, frame_start=1, use_fps_scale=False)
report('bvh')
bpy.ops.wm.read_factory_settings(use_empty=True)
# The importer turns seconds into frames at the scene's rate: with the file's rate, keyframe k is frame k.
bpy.context.scene.render.fps = int(round(float(fps)))
bpy.ops.import_scene.gltf(filepath=glb)
report('gltf')
