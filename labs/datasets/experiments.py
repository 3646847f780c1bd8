"""가상 쇼핑 앱의 행동 로그와 실험 데이터 / Synthetic behaviour logs and experiments of a shopping app.

시드가 같으면 언제나 같은 표가 나오고, 아무것도 내려받지 않습니다. 모든 숫자는 실습용으로 지어낸 값입니다.
Seeded and offline: the same seed always gives the same tables, nothing is downloaded; made-up numbers.

- make_events(n_users, seed) -> funnel event log (visit -> signup -> add_to_cart -> purchase)
- make_app_usage(n_users, seed) -> one row per user and day active, for retention analysis
- make_ab_test(n_users, seed, p_control, relative_lift) -> one row per user of a two-group test
"""

import numpy as np
import pandas as pd

STEPS = ["visit", "signup", "add_to_cart", "purchase"]
STEP_KO = {"visit": "방문", "signup": "가입", "add_to_cart": "장바구니", "purchase": "구매"}
CHANNEL_KO = {"search_ad": "검색광고", "instagram": "인스타그램", "referral": "지인추천"}


def make_events(n_users=5000, seed=7, start="2024-05-01", days=14):
    """퍼널 이벤트 로그: 사용자·이벤트·시각·유입 채널·기기 / funnel events with channel and device.

    채널마다 가입률이, 기기마다 구매율이 다르고, 재방문 때문에 visit 행이 사용자 수보다 많습니다.
    Signup rates differ by channel and purchase rates by device; repeat visits add extra rows.
    """
    rng = np.random.default_rng([seed, 10])
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1),
            "channel": rng.choice(list(CHANNEL_KO), size=n_users, p=[0.5, 0.35, 0.15]),
            "device": rng.choice(["mobile", "desktop"], size=n_users, p=[0.7, 0.3]),
        }
    )
    p_signup = users["channel"].map({"search_ad": 0.30, "instagram": 0.20, "referral": 0.45})
    p_purchase = users["device"].map({"mobile": 0.35, "desktop": 0.50})
    reached = {"visit": np.ones(n_users, dtype=bool)}
    reached["signup"] = rng.random(n_users) < p_signup.to_numpy()
    reached["add_to_cart"] = reached["signup"] & (rng.random(n_users) < 0.55)
    reached["purchase"] = reached["add_to_cart"] & (rng.random(n_users) < p_purchase.to_numpy())
    start = pd.Timestamp(start)
    minutes = days * 24 * 60
    t = start + pd.to_timedelta(
        rng.uniform(0, minutes, n_users), unit="min"
    )  # 첫 방문 / first visit
    frames = []
    for step in STEPS:
        if step != "visit":  # 다음 단계까지 평균 30분 / ~30 minutes per step
            t = t + pd.to_timedelta(rng.exponential(30, n_users), unit="min")
        mask = reached[step]
        frames.append(
            pd.DataFrame(
                {"user_id": users["user_id"].to_numpy()[mask], "event": step, "timestamp": t[mask]}
            )
        )
    repeat = np.repeat(
        users["user_id"].to_numpy(), rng.poisson(0.8, n_users)
    )  # 재방문 / repeat visits
    frames.append(
        pd.DataFrame(
            {
                "user_id": repeat,
                "event": "visit",
                "timestamp": start
                + pd.to_timedelta(rng.uniform(0, minutes, len(repeat)), unit="min"),
            }
        )
    )
    events = pd.concat(frames, ignore_index=True).merge(users, on="user_id", how="left")
    events["timestamp"] = events["timestamp"].dt.floor("s")
    return events.sort_values(["timestamp", "user_id"], ignore_index=True)


def make_app_usage(n_users=3000, seed=11, start="2024-03-04", weeks=12, launch_week=4):
    """앱 사용 로그 (사용자가 앱을 연 날마다 한 행) / app usage, one row per user and active day.

    사용자는 첫 8주 동안 고르게 가입하고, 시간이 갈수록 덜 돌아옵니다. `launch_week`주차부터 가입한
    사용자는 새 온보딩을 거쳐 조금 더 자주 돌아옵니다. Users sign up over the first 8 weeks and come
    back less and less; those who sign up from week `launch_week` on get a new onboarding and return
    a bit more often.
    """
    rng = np.random.default_rng([seed, 11])
    start = pd.Timestamp(start)
    signup_day = rng.integers(0, 8 * 7, size=n_users)
    platform = rng.choice(["Android", "iOS"], size=n_users, p=[0.7, 0.3])
    new_onboarding = signup_day >= launch_week * 7
    rows_user, rows_day = [np.arange(n_users)], [signup_day]
    for week in range(1, weeks):
        # 주차별 재방문 확률: 처음엔 빠르게, 나중엔 천천히 줄어듦 / weekly return probability
        p = 0.12 + 0.33 * np.exp(-(week - 1) / 2.5) + np.where(new_onboarding, 0.07, 0.0)
        p = p * np.where(platform == "iOS", 1.1, 1.0)
        active = (rng.random(n_users) < p) & (signup_day + week * 7 < weeks * 7)
        users = np.flatnonzero(active)
        n_days = 1 + rng.binomial(
            3, 0.3, size=len(users)
        )  # 그 주에 연 날 수 / days opened that week
        who = np.repeat(users, n_days)
        rows_user.append(who)
        rows_day.append(signup_day[who] + week * 7 + rng.integers(0, 7, size=len(who)))
    user = np.concatenate(rows_user)
    day = np.concatenate(rows_day)
    usage = pd.DataFrame(
        {
            "user_id": user + 1,
            "signup_date": start + pd.to_timedelta(signup_day[user], unit="D"),
            "date": start + pd.to_timedelta(day, unit="D"),
            "platform": platform[user],
        }
    )
    usage = usage[usage["date"] < start + pd.Timedelta(weeks=weeks)]
    return usage.drop_duplicates(["user_id", "date"]).sort_values(
        ["date", "user_id"], ignore_index=True
    )


def make_ab_test(
    n_users=20000, seed=3, p_control=0.05, relative_lift=0.08, start="2024-09-02", days=14
):
    """A/B 테스트 결과 (사용자 한 명 = 한 행) / a two-group test, one row per user.

    group A(기존 화면)와 B(새 화면)에 무작위 배정, converted = 기간 안에 구매했는지, revenue = 구매 금액(원).
    Users are randomly assigned to A (current page) or B (new page); converted = bought during the
    test; revenue = what they spent (KRW). B's true conversion rate is p_control * (1 + relative_lift).
    """
    rng = np.random.default_rng([seed, 12])
    group = np.where(rng.random(n_users) < 0.5, "A", "B")
    device = rng.choice(["mobile", "desktop"], size=n_users, p=[0.72, 0.28])
    p = (
        p_control
        * np.where(group == "B", 1 + relative_lift, 1.0)
        * np.where(device == "desktop", 1.3, 0.88)
    )
    converted = rng.random(n_users) < p
    revenue = np.where(converted, np.round(rng.lognormal(np.log(36000), 0.45, n_users), -2), 0)
    return pd.DataFrame(
        {
            "user_id": np.arange(100001, 100001 + n_users),
            "date": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days, n_users), unit="D"),
            "group": group,
            "device": device,
            "converted": converted,
            "revenue": revenue.astype(int),
        }
    )
