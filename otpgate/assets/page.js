// Optional: buttons to print or copy the recovery codes. The pages work without it.
"use strict";
(function () {
  var codes = document.getElementById("recovery-codes");
  var actions = document.getElementById("actions");
  if (!codes || !actions) { return; }
  var text = Array.prototype.map.call(codes.querySelectorAll("code"), function (c) {
    return c.textContent;
  }).join("\n");
  var print = document.createElement("button");
  print.type = "button";
  print.id = "print";
  print.textContent = "Print the codes";
  print.addEventListener("click", function () { window.print(); });
  var copy = document.createElement("button");
  copy.type = "button";
  copy.id = "copy";
  copy.className = "secondary";
  copy.textContent = "Copy the codes";
  copy.addEventListener("click", function () {
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () { copy.textContent = "Copied"; },
        function () { copy.textContent = "Copy failed: select the codes and copy them"; });
    }
  });
  actions.textContent = "";
  actions.appendChild(print);
  actions.appendChild(copy);
})();
