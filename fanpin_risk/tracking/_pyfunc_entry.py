"""MLflow models-from-code entry point of the fanpin_risk pyfunc model.

``tracking.log_model`` logs this file (not a pickled object), so loading the
MLflow model runs this code and reads the saved model directory, which is JSON
and LightGBM text checked against its manifest: nothing is unpickled.
"""

import mlflow

from fanpin_risk.tracking._pyfunc import FanpinPyfunc

mlflow.models.set_model(FanpinPyfunc())
