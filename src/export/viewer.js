// monobody's viewer page. Runs after three.js, GLTFLoader and OrbitControls (classic scripts) and after
// `MONOBODY` (the data: camera, pictures, glb) are defined. The title tells a headless browser how it went:
// "ready" after the first frame is drawn, "error: ..." when anything failed.
(function () {
  'use strict';
  const data = MONOBODY;
  let failed = false;
  function fail(message) {
    failed = true;
    document.title = 'error: ' + message;
    const box = document.getElementById('error');
    box.textContent = 'viewer error: ' + message;
    box.style.display = 'block';
  }
  window.addEventListener('error', (e) => fail(e.message));
  window.addEventListener('unhandledrejection', (e) => fail(String(e.reason)));
  const consoleError = console.error.bind(console);
  console.error = (...args) => { fail(args.map(String).join(' ')); consoleError(...args); };

  function bytes(base64) {
    const s = atob(base64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; ++i) out[i] = s.charCodeAt(i);
    return out;
  }

  const canvas = document.getElementById('view');
  const renderer = new THREE.WebGLRenderer({ canvas: canvas, antialias: true });
  renderer.outputEncoding = THREE.sRGBEncoding;
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0x202020);

  // The real camera: at the origin looking along -z (the export frame is the OpenCV camera frame turned
  // 180 degrees about x). A principal point off the centre becomes a view offset into a larger, centred view.
  const W = data.width, H = data.height;
  const px = data.cx + 0.5, py = data.cy + 0.5;  // principal point from the image's top-left corner
  const fullW = 2 * Math.max(px, W - px), fullH = 2 * Math.max(py, H - py);
  const far = data.backgroundDepth * 2;
  const camera = new THREE.PerspectiveCamera(2 * Math.atan(fullH / 2 / data.fy) * 180 / Math.PI,
                                             (fullW / data.fx) / (fullH / data.fy), 0.05, far);
  camera.setViewOffset(fullW, fullH, fullW / 2 - px, fullH / 2 - py, W, H);
  scene.add(camera);

  // The people's centre on the optical axis: orbiting turns about it and the camera view stays exact.
  const target = new THREE.Vector3(0, 0, -data.centreDepth);
  const controls = new THREE.OrbitControls(camera, canvas);
  function cameraView() {
    camera.position.set(0, 0, 0);
    camera.quaternion.identity();
    controls.target.copy(target);
    controls.update();
  }
  cameraView();

  scene.add(new THREE.HemisphereLight(0xffffff, 0x444444, 0.6));
  const light = new THREE.DirectionalLight(0xffffff, 0.8);
  light.position.set(0.3, 0.5, 0.2);  // from the viewer's side, slightly above: follows the camera
  camera.add(light);

  // The pictures on a plane far behind the people, exactly filling the camera's view at that depth.
  const D = data.backgroundDepth;
  const plane = new THREE.Mesh(new THREE.PlaneGeometry(W * D / data.fx, H * D / data.fy),
                               new THREE.MeshBasicMaterial({ toneMapped: false }));
  plane.position.set((W / 2 - px) * D / data.fx, -(H / 2 - py) * D / data.fy, -D);
  plane.visible = data.pictures.length > 0;
  scene.add(plane);
  const textureLoader = new THREE.TextureLoader();
  const pictures = data.pictures.map(() => null);
  const decoded = new Set();  // pictures ready to draw
  let shownPicture = -1;
  function picture(index) {
    if (!pictures[index]) {
      pictures[index] = textureLoader.load('data:image/jpeg;base64,' + data.pictures[index], () => {
        decoded.add(index);
        draw();
      }, undefined, () => fail('cannot decode background picture ' + index));
      pictures[index].encoding = THREE.sRGBEncoding;
    }
    return pictures[index];
  }

  // Playback: the animation runs at data.fps; the slider picks a frame and stops playing. A page address
  // ending in #frame=N opens paused at frame N.
  const slider = document.getElementById('frame');
  const playButton = document.getElementById('play');
  const label = document.getElementById('label');
  let mixer = null, clipDuration = 0, playing = data.frames > 1, frame = 0, clock = new THREE.Clock(), time = 0;
  const linked = /frame=(\d+)/.exec(window.location.hash);
  const startFrame = linked ? Math.min(data.frames - 1, Number(linked[1])) : 0;
  if (linked) playing = false;
  time = startFrame / data.fps;
  if (data.frames > 1) {
    slider.max = String(data.frames - 1);
  } else {
    slider.style.display = 'none';
    playButton.style.display = 'none';
  }
  function showFrame(f) {
    frame = f;
    slider.value = String(f);
    label.textContent = data.frames > 1 ? 'frame ' + f + ' / ' + (data.frames - 1) : '';
    // Just before the clip's end rather than at it: a repeating clip shows its first frame at its end.
    if (mixer) mixer.setTime(Math.min(f / data.fps, clipDuration - 1e-4));
    if (data.pictures.length) {
      shownPicture = Math.min(data.pictures.length - 1, Math.floor(f / data.frameStep));
      const tex = picture(shownPicture);
      if (plane.material.map !== tex) {
        plane.material.map = tex;
        plane.material.needsUpdate = true;
      }
    }
  }
  slider.addEventListener('input', () => {
    playing = false;
    playButton.textContent = 'play';
    time = Number(slider.value) / data.fps;
    showFrame(Number(slider.value));
  });
  playButton.textContent = playing ? 'pause' : 'play';
  playButton.addEventListener('click', () => {
    playing = !playing;
    playButton.textContent = playing ? 'pause' : 'play';
    clock.getDelta();
  });
  document.getElementById('reset').addEventListener('click', cameraView);
  controls.addEventListener('change', draw);

  // The canvas keeps the picture's aspect ratio, as large as the window allows.
  function resize() {
    const scale = Math.min(window.innerWidth / W, window.innerHeight / H);
    const w = Math.max(1, Math.floor(W * scale)), h = Math.max(1, Math.floor(H * scale));
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    renderer.setSize(w, h);
    canvas.style.left = Math.floor((window.innerWidth - w) / 2) + 'px';
    canvas.style.top = Math.floor((window.innerHeight - h) / 2) + 'px';
    draw();
  }
  window.addEventListener('resize', resize);

  let glbLoaded = false, ready = false;
  function draw() {
    renderer.render(scene, camera);
    if (!ready && !failed && glbLoaded && (shownPicture < 0 || decoded.has(shownPicture))) {
      ready = true;
      document.title = 'ready';
    }
  }
  function tick() {
    requestAnimationFrame(tick);
    if (playing && mixer) {
      time = (time + clock.getDelta()) % (data.frames / data.fps);
      showFrame(Math.min(data.frames - 1, Math.floor(time * data.fps)));
    }
    draw();
  }

  new THREE.GLTFLoader().parse(bytes(data.glb).buffer, '', (gltf) => {
    // Culling would test the meshes' rest pose, which stands at the origin, not where the people are.
    gltf.scene.traverse((o) => { if (o.isSkinnedMesh) o.frustumCulled = false; });
    scene.add(gltf.scene);
    if (gltf.animations.length) {
      mixer = new THREE.AnimationMixer(gltf.scene);
      mixer.clipAction(gltf.animations[0]).play();
      clipDuration = gltf.animations[0].duration;
    }
    glbLoaded = true;
    showFrame(startFrame);
    resize();
    tick();
  }, (error) => fail('cannot read the glb: ' + error));
  showFrame(startFrame);
  resize();
})();
