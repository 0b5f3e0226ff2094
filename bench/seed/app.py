"""The guide's model service, kept as its baseline: Flask, one route per task, no validation."""

import lightgbm as lgb
import numpy as np
from flask import Flask, jsonify, request

app = Flask(__name__)
model = lgb.Booster(model_file="model.txt")


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "healthy"})


@app.route("/predict", methods=["POST"])
def predict():
    data = request.get_json()
    features = np.array(data["features"]).reshape(1, -1)
    prediction = model.predict(features)[0]
    return jsonify({"prediction": float(prediction), "status": "success", "model_version": "1.0"})
